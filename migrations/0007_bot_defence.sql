-- Bot defence (issue 17): the durable record of revocations. Redis holds a
-- copy in each drop (`{drop}:revoked:users`, `{drop}:revoked:jtis`), which the
-- sale's reserve script and the queue's join script check; a drop loaded
-- into Redis (created, rebuilt after Redis lost it) gets its copy from here.

-- A user barred from every line and every purchase until lifted.
CREATE TABLE revoked_users (
    user_id    text PRIMARY KEY,
    reason     text NOT NULL DEFAULT '',
    revoked_at timestamptz NOT NULL DEFAULT now()
);

-- One admission token (`jti`) refused by the sale. Kept until it would have
-- expired anyway.
CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY,
    drop_id    text NOT NULL REFERENCES drops (id),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_by_drop ON revoked_tokens (drop_id, expires_at);

-- Invite-only and presale lines. A drop with a row here in mode `code` or
-- `list` admits to its line only users granted access: on the operator's
-- list, or by redeeming an access code. Codes are stored as SHA-256 hashes
-- (the operator sees a code once, when it is made).
--
-- `proof_of_work` false exempts the drop's joins from proof of work.
CREATE TABLE drop_access (
    drop_id       text PRIMARY KEY REFERENCES drops (id),
    mode          text NOT NULL DEFAULT 'open' CHECK (mode IN ('open', 'code', 'list')),
    proof_of_work boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE access_codes (
    drop_id    text NOT NULL REFERENCES drops (id),
    code_hash  text NOT NULL,
    max_uses   integer NOT NULL CHECK (max_uses >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (drop_id, code_hash)
);

-- Who may join an access-controlled drop: listed by the operator
-- (`code_hash` NULL) or by a redeemed code. A code's uses are its grants
-- here: a Redis copy rebuilt from this table never re-opens a used code.
CREATE TABLE access_grants (
    drop_id    text NOT NULL REFERENCES drops (id),
    user_id    text NOT NULL,
    code_hash  text,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (drop_id, user_id)
);
CREATE INDEX access_grants_by_code ON access_grants (drop_id, code_hash);
