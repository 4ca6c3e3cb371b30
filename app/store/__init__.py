"""Storage: decisions and corrections, rule versions, access tokens, the spool that keeps what the
database could not take, exports, and the migrations. May import app.rulelang only."""
