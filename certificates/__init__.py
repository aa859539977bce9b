"""The certificates service: where nginx's certificate comes from (TLS_MODE), kept valid.

Its image is certificates/Dockerfile; `python -m certificates --help` lists its commands. The
checks a served certificate must pass (certificates/pem.py) are also scripts/check-env's.
"""
