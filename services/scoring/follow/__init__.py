"""What follows the log: consumer, leases, entity cache, generations, replayer, scorer."""
