"""merkle"""
