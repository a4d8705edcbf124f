"""Above the studies: what spans all four (the results page). The core never imports this package."""
