-- Attachments: files published with an event. Their descriptions (name,
-- filename, content type, size, hashes) are a JSON list on the event row, read
-- with every claim at no extra cost; their bytes are chunks of at most 256 KiB,
-- read one at a time by a delivery or a download, and deleted with the event.
ALTER TABLE events ADD COLUMN attachments TEXT;

CREATE TABLE attachment_chunks (
    event_id  TEXT NOT NULL,
    position  INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    data      BYTEA NOT NULL,
    PRIMARY KEY (event_id, position, seq)
);
