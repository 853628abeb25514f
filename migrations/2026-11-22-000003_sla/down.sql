DROP TABLE sla_closed;
DROP TABLE sla_received;
