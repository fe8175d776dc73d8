"""Win-probability models for ranking open leads and deals, additive in log-odds so each score explains itself."""
