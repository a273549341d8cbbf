-- Bot defence (issue 17): the proof-of-work function per drop, next to the
-- proof-of-work and CAPTCHA switches. 'SHA-256': ALTCHA's classic scheme
-- (cheap for the server, ~2.6x cheaper for a tuned native solver than for
-- a browser); 'ARGON2ID': ALTCHA PoW v2's memory-hard Argon2id (see README,
-- "Bot defence", for what each costs a fan and the server).
ALTER TABLE drop_access ADD COLUMN pow_algorithm text NOT NULL DEFAULT 'SHA-256'
    CHECK (pow_algorithm IN ('SHA-256', 'ARGON2ID'));
