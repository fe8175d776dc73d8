"""What every salesperf service needs: the event contract, settings, DB, auth, errors."""
