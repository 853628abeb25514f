DROP TABLE draw_conflicts;
DROP TABLE draw_filings;
DROP TABLE draws;
