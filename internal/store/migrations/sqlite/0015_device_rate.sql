-- Device API throttle shared by the nodes (internal/device SharedLimiter):
-- one row per device, the theoretical arrival time of the generic cell rate
-- algorithm (a token bucket kept as one number).
CREATE TABLE device_rate (
    device_id  INTEGER PRIMARY KEY,
    tat        INTEGER NOT NULL   -- Unix milliseconds
);
