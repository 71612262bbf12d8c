-- v1: the users API's and the trades API's tables. Each service owns its
-- table and reaches the other's data through its API, so there is no
-- foreign key between them.
CREATE TABLE users (
    id         bigserial   PRIMARY KEY,
    name       text        NOT NULL,
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE trades (
    id        bigserial   PRIMARY KEY,
    user_id   bigint      NOT NULL,
    symbol    text        NOT NULL,
    side      text        NOT NULL CHECK (side IN ('buy', 'sell')),
    qty       integer     NOT NULL CHECK (qty > 0),
    price     bigint      NOT NULL, -- US cents
    placed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trades_user_id ON trades (user_id, id DESC);
