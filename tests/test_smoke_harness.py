import requests


def test_readyz_through_gunicorn(gunicorn, transactional_db):
    response = requests.get(f"{gunicorn.url}/readyz", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "database": "ok", "cache": "ok"}
