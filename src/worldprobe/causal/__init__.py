"""The causal test: edit the residual stream along probe directions and read what the model says."""
