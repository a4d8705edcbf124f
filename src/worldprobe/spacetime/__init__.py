"""Space and time (Gurnee & Tegmark): probes on entity activations for where places are and when
things happened, their controls, generalization, learning curves and report."""
