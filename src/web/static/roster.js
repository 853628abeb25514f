// The table editor: a table field's textarea (one with data-editor) becomes a table of inputs,
// one row per unit, with the live count of the owners' vote under it. A small enhancement:
// without it the textarea is the form, and with it the textarea is still what is sent (its
// text is written back before every submit), so the server reads and judges the rows the same
// way. Everything the editor says, the columns and the vote's thresholds come from the page
// (data-editor, built from the item's definition); nothing here is configuration.
(function () {
  "use strict";

  var VOTES = ["agree", "object", "abstain", "absent"];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? values[k] : m;
    });
  }

  // Exact hundredths of a decimal text ("89.5" is 8950), or null: areas are never summed as
  // floats, as on the server.
  function hundredths(text) {
    var m = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(text || "");
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + (m[2] ? parseInt((m[2] + "0").slice(0, 2), 10) : 0);
  }

  function showHundredths(h) {
    var whole = Math.floor(h / 100), frac = h % 100;
    if (frac === 0) return String(whole);
    if (frac % 10 === 0) return whole + "." + frac / 10;
    return whole + "." + (frac < 10 ? "0" : "") + frac;
  }

  function percent(part, whole) {
    if (whole <= 0) return "—";
    var tenths = Math.round((part * 1000) / whole);
    return Math.floor(tenths / 10) + "." + (tenths % 10) + "%";
  }

  // part of whole reaches the share (exceeds it, for "more than"); exact, in BigInt.
  function metBy(t, part, whole) {
    if (whole <= 0) return false;
    var left = BigInt(part) * BigInt(t.den), right = BigInt(whole) * BigInt(t.num);
    return t.more_than ? left > right : left >= right;
  }

  function setUp(area) {
    var cfg;
    try { cfg = JSON.parse(area.getAttribute("data-editor")); } catch (e) { return; }
    if (!cfg || !cfg.columns || !cfg.columns.length) return;
    var cols = cfg.columns, T = cfg.text, form = area.form;
    var original = area.value;
    var rows = parse(area.value);
    var errors = {};
    (cfg.problems || []).forEach(function (p) {
      var key = p.row + ":" + (p.column || cols[0].code);
      (errors[key] = errors[key] || []).push(p.message);
    });
    var textMode = false;

    // ---- reading and writing the textarea, as the server does (form.rs, table_rows).
    function parse(text) {
      return text.split(/\r?\n/).filter(function (l) { return l.trim() !== ""; }).map(function (line) {
        var cells = (line.indexOf("\t") >= 0 ? line.split("\t") : line.split(/[,，]/)).map(function (c) { return c.trim(); });
        while (cells.length > cols.length && cells[cells.length - 1] === "") cells.pop();
        if (cells.length > cols.length) {
          // Keep what was typed: the extra cells stay in the last column, where they are told.
          var head = cells.slice(0, cols.length - 1);
          head.push(cells.slice(cols.length - 1).join(", "));
          cells = head;
        }
        while (cells.length < cols.length) cells.push("");
        return cells;
      });
    }

    function option(col, raw) {
      var low = (raw || "").toLowerCase();
      return (col.options || []).filter(function (o) {
        return o.value === raw || o.zh === raw || o.en.toLowerCase() === low;
      })[0];
    }

    function yes(raw) { return cfg.yes.indexOf((raw || "").toLowerCase()) >= 0; }
    function no(raw) { return raw === "" || cfg.no.indexOf((raw || "").toLowerCase()) >= 0; }

    function blank(row) {
      return row.every(function (v, j) { return cols[j].type === "boolean" ? !yes(v) : v.trim() === ""; });
    }

    function serialize() {
      return rows.filter(function (r) { return !blank(r); }).map(function (r) {
        var cells = r.map(function (v, j) {
          var c = cols[j];
          if (c.type === "select") { var o = option(c, v); return o ? o.label : v; }
          if (c.type === "boolean") return yes(v) ? cfg.yes_word : no(v) ? cfg.no_word : v;
          return v.replace(/[\t\r\n]+/g, " ");
        });
        // A tab makes the server split at tabs (a cell may hold a comma).
        return cells.join("\t") + (cells.length === 1 ? "\t" : "");
      }).join("\n");
    }

    function writeBack() { if (!textMode) area.value = serialize(); }

    // ---- the table.
    var wrap = el("div", { "class": "table-editor", id: area.id + "-editor" });
    var table = el("table", { "class": "rows", id: area.id + "-table" });
    var caption = el("caption");
    var thead = el("thead"), tbody = el("tbody");
    var hr = el("tr");
    hr.appendChild(el("th", { scope: "col" }, T.row));
    cols.forEach(function (c) { hr.appendChild(el("th", { scope: "col" }, c.label + (c.required ? " *" : ""))); });
    hr.appendChild(el("th", { scope: "col" }, T.remove));
    thead.appendChild(hr);
    table.appendChild(caption);
    table.appendChild(thead);
    table.appendChild(tbody);
    var tools = el("div", { "class": "table-tools" });
    var add = el("button", { type: "button", "class": "secondary", id: area.id + "-add" }, T.add_row);
    var toggle = el("button", { type: "button", "class": "secondary", id: area.id + "-as-text" }, T.as_text);
    tools.appendChild(add);
    tools.appendChild(toggle);
    var help = el("p", { "class": "muted" }, T.editor_help);
    wrap.appendChild(table);
    wrap.appendChild(tools);
    wrap.appendChild(help);
    // The count: its tables are redrawn as the rows change; the verdict stays one live region.
    var count = null, detail = null, verdict = null;
    if (cfg.consent) {
      count = el("div", { "class": "roster-count", id: area.id + "-count" });
      detail = el("div");
      verdict = el("p", { "class": "verdict", id: area.id + "-count-verdict", "aria-live": "polite" });
      count.appendChild(detail);
      count.appendChild(verdict);
      wrap.appendChild(count);
    }
    area.parentNode.insertBefore(wrap, area.nextSibling);
    area.hidden = true;

    function cellId(i, j) { return area.id + "-r" + i + "-" + cols[j].code; }

    function control(i, j) {
      var c = cols[j], v = rows[i][j], id = cellId(i, j), input;
      var label = fill(T.cell, { n: i + 1, column: c.label });
      if (c.type === "select") {
        input = el("select", { id: id, "aria-label": label });
        input.appendChild(el("option", { value: "" }, T.choose));
        var known = option(c, v);
        c.options.forEach(function (o) {
          var opt = el("option", { value: o.value }, o.label);
          if (known && known.value === o.value) opt.selected = true;
          input.appendChild(opt);
        });
        if (v && !known) {
          // What was typed stays, to be put right.
          var typed = el("option", { value: v }, v);
          typed.selected = true;
          input.appendChild(typed);
        }
      } else if (c.type === "boolean" && (yes(v) || no(v))) {
        input = el("input", { type: "checkbox", id: id, "aria-label": label });
        input.checked = yes(v);
      } else if (c.type === "number" && (v === "" || /^-?\d+(\.\d+)?$/.test(v))) {
        input = el("input", { type: "number", id: id, "aria-label": label, step: c.step || "any", min: c.min, max: c.max });
        input.value = v;
      } else if (c.type === "date" && (v === "" || /^\d{4}-\d{2}-\d{2}$/.test(v))) {
        input = el("input", { type: "date", id: id, "aria-label": label });
        input.value = v;
      } else {
        input = el("input", { type: "text", id: id, "aria-label": label, maxlength: c.max_len || null });
        input.value = v;
      }
      input.setAttribute("data-row", i);
      input.setAttribute("data-col", j);
      return input;
    }

    function renderRow(i) {
      var tr = el("tr");
      tr.appendChild(el("th", { scope: "row" }, String(i + 1)));
      cols.forEach(function (c, j) {
        var td = el("td", { "class": c.type === "number" ? "num" : null });
        var input = control(i, j);
        td.appendChild(input);
        var msgs = errors[i + ":" + c.code];
        if (msgs) {
          var msg = el("span", { "class": "cell-error", id: input.id + "-error" }, msgs.join("；"));
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", msg.id);
          td.appendChild(msg);
        }
        tr.appendChild(td);
      });
      var td = el("td", { "class": "remove" });
      td.appendChild(el("button", { type: "button", "class": "secondary", "data-remove": i, "aria-label": fill(T.remove_row, { n: i + 1 }) }, T.remove));
      tr.appendChild(td);
      return tr;
    }

    function render(focus) {
      var body = el("tbody");
      for (var i = 0; i < rows.length; i++) body.appendChild(renderRow(i));
      table.replaceChild(body, tbody);
      tbody = body;
      add.disabled = rows.length >= cfg.max_rows;
      changed();
      if (focus) { var f = document.getElementById(focus); if (f) f.focus(); }
    }

    // Errors are the server's answer to what was sent: a changed cell is no longer told.
    function forget(i, j) {
      delete errors[i + ":" + cols[j].code];
      var input = document.getElementById(cellId(i, j));
      if (!input) return;
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      var msg = document.getElementById(input.id + "-error");
      if (msg) msg.parentNode.removeChild(msg);
    }

    function read(input) {
      var i = +input.getAttribute("data-row"), j = +input.getAttribute("data-col");
      rows[i][j] = input.type === "checkbox" ? (input.checked ? cfg.yes_word : "") : input.value;
      forget(i, j);
    }

    // Shift the errors of the rows after a removed one up by one.
    function dropRowErrors(at) {
      var moved = {};
      Object.keys(errors).forEach(function (k) {
        var parts = k.split(":"), r = +parts[0];
        if (r < at) moved[k] = errors[k];
        else if (r > at) moved[(r - 1) + ":" + parts[1]] = errors[k];
      });
      errors = moved;
    }

    var pending = false;
    function changed() {
      writeBack();
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () { pending = false; caption.textContent = cfg.label + " · " + fill(T.rows, { n: rows.filter(function (r) { return !blank(r); }).length }); if (count) tally(); });
    }

    table.addEventListener("input", function (e) { if (e.target.hasAttribute("data-row")) { read(e.target); changed(); } });
    table.addEventListener("change", function (e) { if (e.target.hasAttribute("data-row")) { read(e.target); changed(); } });
    table.addEventListener("click", function (e) {
      var b = e.target.closest("button[data-remove]");
      if (!b) return;
      var i = +b.getAttribute("data-remove");
      rows.splice(i, 1);
      dropRowErrors(i);
      var next = rows.length ? area.id + "-r" + Math.min(i, rows.length - 1) + "-" + cols[0].code : add.id;
      render(next);
    });
    // Enter moves down a row (adding one at the end), as in a spreadsheet, instead of sending
    // the form.
    table.addEventListener("keydown", function (e) {
      var t = e.target;
      if (e.key !== "Enter" || !t.hasAttribute("data-row") || t.tagName === "BUTTON") return;
      e.preventDefault();
      var i = +t.getAttribute("data-row") + 1, j = +t.getAttribute("data-col");
      if (i >= rows.length) {
        if (rows.length >= cfg.max_rows) return;
        rows.push(cols.map(function () { return ""; }));
        render(cellId(i, j));
      } else {
        document.getElementById(cellId(i, j)).focus();
      }
    });
    // Cells copied from a spreadsheet (tabs and lines) fill the table from the cell pasted in.
    table.addEventListener("paste", function (e) {
      var t = e.target;
      if (!t.hasAttribute("data-row") || !e.clipboardData) return;
      var text = e.clipboardData.getData("text/plain");
      if (!/[\t\n]/.test(text)) return;
      e.preventDefault();
      var r0 = +t.getAttribute("data-row"), c0 = +t.getAttribute("data-col");
      var lines = text.replace(/\r?\n$/, "").split(/\r?\n/);
      lines.forEach(function (line, k) {
        var cells = line.indexOf("\t") >= 0 ? line.split("\t") : line.split(/[,，]/);
        var r = r0 + k;
        if (r >= cfg.max_rows) return;
        while (rows.length <= r) rows.push(cols.map(function () { return ""; }));
        cells.forEach(function (v, m) {
          var j = c0 + m;
          if (j < cols.length) { rows[r][j] = v.trim(); delete errors[r + ":" + cols[j].code]; }
        });
      });
      render(cellId(r0, c0));
    });
    add.addEventListener("click", function () {
      if (rows.length >= cfg.max_rows) return;
      rows.push(cols.map(function () { return ""; }));
      render(cellId(rows.length - 1, 0));
    });
    toggle.addEventListener("click", function () {
      if (!textMode) {
        writeBack();
        textMode = true;
        area.hidden = false;
        table.hidden = true;
        add.hidden = true;
        help.hidden = true;
        toggle.textContent = T.as_table;
        area.focus();
      } else {
        // The rows as the text now says; the server's errors hold only for the text it saw.
        if (area.value !== original) errors = {};
        rows = parse(area.value);
        textMode = false;
        area.hidden = true;
        table.hidden = false;
        add.hidden = false;
        help.hidden = false;
        toggle.textContent = T.as_text;
        render(toggle.id);
      }
    });
    if (form) form.addEventListener("submit", writeBack);

    // ---- the count, as the owner_consent guard makes it (src/domain/consent.rs).
    function tally() {
      var c = cfg.consent;
      var at = function (code) { for (var j = 0; j < cols.length; j++) if (cols[j].code === code) return j; return -1; };
      var iO = at(c.owner), iA = at(c.area), iV = at(c.vote), iS = c.signed ? at(c.signed) : -1;
      var areaCol = cols[iA] || {}, voteCol = cols[iV] || {};
      var min = areaCol.min == null ? null : Math.round(areaCol.min * 100);
      var max = areaCol.max == null ? null : Math.round(areaCol.max * 100);
      var units = 0, uncounted = 0, owners = {}, order = [], counted = [];
      rows.forEach(function (r, i) {
        if (blank(r)) return;
        units++;
        var owner = (r[iO] || "").trim(), a = hundredths(r[iA]);
        var o = option(voteCol, (r[iV] || "").trim()), vote = o && VOTES.indexOf(o.value) >= 0 ? o.value : null;
        if (!owner || a === null || (min !== null && a < min) || (max !== null && a > max) || !vote) { uncounted++; return; }
        var signed = iS < 0 ? true : yes(r[iS]);
        counted.push({ owner: owner, area: a, vote: vote, signed: signed });
        if (!owners[owner]) { owners[owner] = { rows: [], ballots: [] }; order.push(owner); }
        owners[owner].rows.push(i + 1);
        owners[owner].ballots.push([vote, signed]);
      });
      var conflicts = order.filter(function (name) {
        var b = owners[name].ballots, first = b[0];
        return !b.every(function (x) { return x[0] === first[0] && (x[0] !== "agree" || x[1] === first[1]); });
      });
      function share(f) {
        var s = { heads: 0, area: 0 };
        order.forEach(function (name) { if (f(owners[name].ballots[0])) s.heads++; });
        counted.forEach(function (r) { if (f([r.vote, r.signed])) s.area += r.area; });
        return s;
      }
      var total = share(function () { return true; });
      var votes = {};
      VOTES.forEach(function (v) { votes[v] = share(function (b) { return b[0] === v; }); });
      var agreeing = share(function (b) { return b[0] === "agree" && b[1]; });
      var part = share(function (b) { return b[0] !== "absent"; });

      var box = el("div");
      var t1 = el("table", { "class": "rows" });
      t1.appendChild(el("caption", {}, T.totals));
      var h1 = el("tr");
      [T.what, T.heads, T.area].forEach(function (h) { h1.appendChild(el("th", { scope: "col" }, h)); });
      var th1 = el("thead"); th1.appendChild(h1); t1.appendChild(th1);
      var b1 = el("tbody");
      function line(what, heads, a, id) {
        var tr = el("tr", { id: id ? count.id + "-" + id : null });
        tr.appendChild(el("th", { scope: "row" }, what));
        tr.appendChild(el("td", {}, heads));
        tr.appendChild(el("td", {}, a));
        b1.appendChild(tr);
      }
      line(T.units, String(units), "", "units");
      line(T.owners, String(total.heads), showHundredths(total.area), "owners");
      VOTES.forEach(function (v) {
        var o = option(voteCol, v);
        line(o ? o.label : v, String(votes[v].heads), showHundredths(votes[v].area), v);
        if (v === "agree" && (agreeing.heads !== votes.agree.heads || agreeing.area !== votes.agree.area)) {
          line(T.agree_unsigned, String(votes.agree.heads - agreeing.heads), showHundredths(votes.agree.area - agreeing.area), "unsigned");
        }
      });
      t1.appendChild(b1);
      box.appendChild(t1);

      var t2 = el("table", { "class": "rows" });
      var h2 = el("tr");
      [T.requirement, T.actual, T.result].forEach(function (h) { h2.appendChild(el("th", { scope: "col" }, h)); });
      var th2 = el("thead"); th2.appendChild(h2); t2.appendChild(th2);
      var b2 = el("tbody");
      var all = true;
      c.thresholds.forEach(function (t) {
        var of = t.of === "total" ? total : part;
        var p, w;
        if (t.code === "participation_area") { p = part.area; w = total.area; }
        else if (t.code === "participation_headcount") { p = part.heads; w = total.heads; }
        else if (t.code === "approval_area") { p = agreeing.area; w = of.area; }
        else { p = agreeing.heads; w = of.heads; }
        var met = metBy(t, p, w);
        all = all && met;
        var shown = t.measure === "area" ? [showHundredths(p), showHundredths(w)] : [String(p), String(w)];
        var tr = el("tr", { id: count.id + "-" + t.code });
        tr.appendChild(el("td", {}, t.label + " " + t.share));
        tr.appendChild(el("td", {}, fill(T.share_of, { part: shown[0], whole: shown[1], percent: percent(p, w) })));
        var td = el("td");
        td.appendChild(el("span", { "class": "badge " + (met ? "green" : "red") }, met ? T.met : T.not_met));
        tr.appendChild(td);
        b2.appendChild(tr);
      });
      if (c.no_objection) {
        var quiet = votes.object.heads === 0;
        all = all && quiet;
        var tr = el("tr", { id: count.id + "-no_objection" });
        tr.appendChild(el("td", {}, T.no_objection));
        tr.appendChild(el("td", {}, fill(T.objecting, { n: votes.object.heads })));
        var td = el("td");
        td.appendChild(el("span", { "class": "badge " + (quiet ? "green" : "red") }, quiet ? T.met : T.not_met));
        tr.appendChild(td);
        b2.appendChild(tr);
      }
      t2.appendChild(b2);
      box.appendChild(t2);

      var problems = [];
      if (uncounted) problems.push(fill(T.uncounted, { n: uncounted }));
      conflicts.forEach(function (name) { problems.push(fill(T.conflict, { owner: name, rows: owners[name].rows.join("、") })); });
      if (problems.length) {
        var ul = el("ul");
        problems.forEach(function (p) { ul.appendChild(el("li", {}, p)); });
        box.appendChild(ul);
      }
      var decided = !problems.length && units > 0;
      // An empty table (the fund's, when the fund is not used) has nothing to count.
      count.hidden = units === 0;
      count.replaceChild(box, detail);
      detail = box;
      verdict.className = "verdict " + (decided && all ? "carried" : "failed");
      var said = !decided ? T.undecided : all ? T.carried : T.not_carried;
      if (verdict.textContent !== said) verdict.textContent = said;
    }

    render(null);
  }

  document.querySelectorAll("textarea[data-editor]").forEach(setUp);
})();
