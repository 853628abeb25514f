-- Window filing (窗口收件 / 代办, issue 17 §1): a clerk at the receiving office's window files for
-- an applicant who came in person. The filing belongs to the applicant (`applicant_id`); this
-- records who filed it, so that a window-assisted filing stays distinguishable (LAW.md §8).
-- NULL for a filing the applicant made. Set at creation and never changed.
ALTER TABLE filings ADD COLUMN filed_by uuid REFERENCES users (id);
