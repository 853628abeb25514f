DROP TRIGGER documents_fixed ON documents;
DROP FUNCTION documents_are_fixed();
DROP TABLE documents;
DROP TABLE certificate_serials;
DROP TABLE certificate_events;
DROP TABLE certificates;
