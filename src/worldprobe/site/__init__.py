"""What sits above the studies: their reports, the README's summary and the results page. It may import
every study; neither the core nor a study imports it."""
