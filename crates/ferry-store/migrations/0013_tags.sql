-- Tags (App Runner's TagResource): key-value pairs on any resource the App Runner API names, keyed by the
-- resource's full ARN. A resource's tags are forgotten when it is deleted.
CREATE TABLE tags (
    resource TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (resource, key)
);
