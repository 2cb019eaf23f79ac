-- R4 for a customer who can neither see nor hear the captcha: a one-time code sent to the
-- account's verified address stands in for the captcha (kept as a digest, single use, 10 min).
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens
    ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'login_code'));
