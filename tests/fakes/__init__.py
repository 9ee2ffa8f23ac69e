"""Test doubles shared by unit and integration tests: fake services and payload builders."""
