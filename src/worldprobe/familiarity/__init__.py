"""Familiarity: does the model know the entity (few-shot labels), and do the space-and-time probes
work as well on entities it does not know?"""
