"""Managing rules: validation, publishing, rollback, backtests and golden cases. May import
app.decide, app.store and everything below them."""
