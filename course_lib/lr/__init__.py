"""Learning rates: schedules, lr sweeps that train many models at once, the lr range test."""
