"""Dojangkok AI server: retrieval from ChromaDB, generation on vLLM with a LoRA adapter per analysis type."""
