-- Bot defence (issue 17): a per-drop CAPTCHA switch, next to the
-- proof-of-work one. When the deployment has a CAPTCHA verifier
-- (CAPTCHA_VERIFY_URL), joins of a drop need a CAPTCHA token unless the
-- operator turned it off here; without a verifier it changes nothing.
ALTER TABLE drop_access ADD COLUMN captcha boolean NOT NULL DEFAULT true;
