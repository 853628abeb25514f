// Upload progress: a small enhancement. Without it the upload forms post as usual.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches("form[enctype='multipart/form-data']") || !window.FormData) return;
  var input = form.querySelector("input[type=file]");
  if (!input || !input.files.length) return;
  event.preventDefault();
  var bar = document.createElement("progress");
  bar.max = 100; bar.value = 0;
  bar.setAttribute("aria-label", input.files[0].name);
  form.appendChild(bar);
  var button = form.querySelector("button");
  if (button) button.disabled = true;
  var xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.upload.onprogress = function (e) {
    if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
  };
  xhr.onload = function () {
    if (xhr.status < 400) { window.location.href = xhr.responseURL; return; }
    // The page that says what to fix.
    document.open(); document.write(xhr.responseText); document.close();
  };
  xhr.onerror = function () { form.submit(); };
  xhr.send(new FormData(form));
});
