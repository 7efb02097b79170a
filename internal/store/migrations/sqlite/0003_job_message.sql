-- Jobs that read a stored message (remote deliveries) name it, so that the
-- message outlives its last mailbox entry until the job is done.
ALTER TABLE jobs ADD COLUMN message_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_message ON jobs(message_id);
