-- A state file written by the first release (main at ed7ead9, schema without a version table):
-- MockApp(state=FILE, clock='real'), one create of kept@example.com and its status read, then .dump.
-- tests/state/test_store.py opens it with this release: it must keep its requests and journal.
BEGIN TRANSACTION;
CREATE TABLE control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    fixtures TEXT NOT NULL,
    manual_now_ms INTEGER
);
INSERT INTO "control" VALUES(1,1,'{"accounts": [{"id": "acme", "name": "Acme Corp", "bots": [{"id": "st-7b0e3c1a-2f4d-4e8b-8a6c-5d9f1e2b3c4d", "name": "Acme Support"}, {"id": "st-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "name": "Acme Sales"}], "users": [{"id": "u-3c8c0a52-6d1e-4f7b-9c0a-2b1e7d5f4a90", "role": "end_user"}, {"id": "jane.doe@example.com", "role": "end_user"}, {"id": "owner@acme.example", "role": "account_owner"}, {"id": "u-9d2f4b61-0c3a-4e5d-8f7a-6b1c2d3e4f50", "role": "bot_owner"}, {"id": "dev@acme.example", "role": "bot_codeveloper"}], "apps": [{"clientId": "cs-7fc99739-c463-4006-8e64-d6c844a8b67f", "name": "Acme privacy automation", "clientSecret": "acme-admin-secret-do-not-use-in-production", "kind": "admin_console", "scopes": ["Delete Users Data"], "enforceJti": false}, {"clientId": "cs-239dc0d1-b58f-43c0-bf2f-ca9d13a7ec60", "name": "Acme strict (enforces JTI)", "clientSecret": "acme-jti-secret-do-not-use-in-production", "kind": "admin_console", "scopes": ["Delete Users Data"], "enforceJti": true}, {"clientId": "cs-9ce8b318-b267-483c-883f-b1672510b9e3", "name": "Acme analytics (no erase scope)", "clientSecret": "acme-unscoped-secret-do-not-use-in-production", "kind": "admin_console", "scopes": ["Bot Analytics"], "enforceJti": false}, {"clientId": "cs-9810588a-9e30-4c07-a674-78216b3cf8f2", "name": "Acme bot-level app", "clientSecret": "acme-botapp-secret-do-not-use-in-production", "kind": "bot", "scopes": ["Delete Users Data"], "enforceJti": false}]}, {"id": "globex", "name": "Globex Inc", "bots": [{"id": "st-475389e2-c8a4-490d-836a-4f6e708dd3fe", "name": "Globex Helpdesk"}], "users": [{"id": "u-3d65753e-a8ca-4d82-9967-d41de1a3d1e8", "role": "end_user"}, {"id": "boss@globex.example", "role": "account_owner"}], "apps": [{"clientId": "cs-9cf9cc09-3579-404d-b568-c88b209076a2", "name": "Globex privacy automation", "clientSecret": "globex-admin-secret-do-not-use-in-production", "kind": "admin_console", "scopes": ["Delete Users Data"], "enforceJti": false}]}], "requests": [{"requestId": "eud-eeb6e86b-c0f9-435c-af75-697a909943ea", "account": "acme", "createdSecondsAgo": 30, "RemoveDataFromAllBots": true, "users": [{"userId": "u-3c8c0a52-6d1e-4f7b-9c0a-2b1e7d5f4a90", "status": "SUCCESS"}, {"userId": "owner@acme.example", "status": "FAILURE"}, {"userId": "jane.doe@example.com", "status": "IN_PROGRESS", "completesInSeconds": 3600}]}]}',NULL);
CREATE TABLE faults (
    id INTEGER PRIMARY KEY,
    spec TEXT NOT NULL,
    remaining INTEGER
);
CREATE TABLE journal (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    app_id TEXT,
    operation_id TEXT,
    request_id TEXT,
    worker INTEGER
);
INSERT INTO "journal" VALUES(1,1795978594197,'DELETE','/api/public/bot/eraseUsersData',200,'cs-7fc99739-c463-4006-8e64-d6c844a8b67f','createEraseRequest','eud-069e6034-7074-4886-a807-fa841c934653',9227);
INSERT INTO "journal" VALUES(2,1795978594198,'GET','/api/public/bot/eraseUsersData/status/eud-069e6034-7074-4886-a807-fa841c934653',200,'cs-7fc99739-c463-4006-8e64-d6c844a8b67f','getEraseRequestStatus',NULL,9227);
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    remove_all INTEGER NOT NULL,
    bot_ids TEXT NOT NULL,
    users TEXT NOT NULL,
    done_ms INTEGER  -- when its last user reaches a final status; NULL: never forgotten (preloaded)
);
INSERT INTO "requests" VALUES('eud-eeb6e86b-c0f9-435c-af75-697a909943ea','acme',1795978564057,1,'["st-7b0e3c1a-2f4d-4e8b-8a6c-5d9f1e2b3c4d", "st-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]','[["u-3c8c0a52-6d1e-4f7b-9c0a-2b1e7d5f4a90", "SUCCESS", 1795978564057, null], ["owner@acme.example", "FAILURE", 1795978564057, "The user is an account owner."], ["jane.doe@example.com", "SUCCESS", 1795982194057, null]]',NULL);
INSERT INTO "requests" VALUES('eud-069e6034-7074-4886-a807-fa841c934653','acme',1795978594195,1,'["st-7b0e3c1a-2f4d-4e8b-8a6c-5d9f1e2b3c4d", "st-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]','[["kept@example.com", "SUCCESS", 1795978596195, null]]',1795978596195);
CREATE TABLE used_jti (
    app TEXT NOT NULL,
    jti TEXT NOT NULL,
    PRIMARY KEY (app, jti)
) WITHOUT ROWID;
CREATE INDEX requests_done ON requests (done_ms);
COMMIT;
