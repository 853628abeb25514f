-- Let an action's UPDATE of a filing be a HOT update (a new row version on the same page, no
-- new index entries) where it can be.
--
-- Under load almost no filing update was HOT (80 of 14,501 in the load benchmark): every action
-- changes `state`, which `filings_department_open (department, state)` indexed, and the pages
-- were packed full. That index served no query (lists by department go through the tasks, and
-- the reports through `item_code` and the due days), so it goes, and new pages keep 15% free
-- for the next version of their rows. An action that neither moves a statutory due day nor
-- closes the filing (most of them) now writes no index entry for the filing at all.
DROP INDEX filings_department_open;
ALTER TABLE filings SET (fillfactor = 85);
