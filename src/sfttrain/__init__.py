"""sfttrain: a thin trainer over transformers + peft + bitsandbytes, fed by sftdata."""
