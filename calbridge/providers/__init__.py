"""Provider adapters (Google, Graph, EWS) behind one Protocol; see `base`."""
