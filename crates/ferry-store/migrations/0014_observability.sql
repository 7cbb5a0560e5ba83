-- Observability configurations (App Runner's): named, revisioned, as auto scaling configurations are. ferry
-- has no tracing backend: a configuration is kept and reported, and a service's spec names the revision it
-- uses. `trace_vendor` is TraceConfiguration.Vendor (AWSXRAY), NULL when tracing is not asked for.
CREATE TABLE observability_configurations (
    name         TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    trace_vendor TEXT,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    PRIMARY KEY (name, revision)
);
