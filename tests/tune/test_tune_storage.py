"""tinyedge tune's storage: a study shared by worker processes on a real PostgreSQL server (the
conftest's), `--workers K` in one command, and a search interrupted with SIGINT that continues."""

from __future__ import annotations

import optuna
import psycopg
import pytest


def test_the_fixture_is_a_real_postgresql_server_on_a_socket_and_optuna_stores_a_study_in_it(postgres_server):
    with psycopg.connect(host=str(postgres_server.folder), user="postgres", dbname="tinyedge") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), inet_server_addr(), current_setting('listen_addresses')")
            version, address, listen = cursor.fetchone()
    assert version.startswith("PostgreSQL ")
    assert address is None and listen == ""          # a unix socket; no TCP at all
    assert (postgres_server.folder / ".s.PGSQL.5432").is_socket()
    study = optuna.create_study(study_name="probe", storage=postgres_server.url, directions=["maximize"])
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, values=[1.0]))
    assert len(optuna.load_study(study_name="probe", storage=postgres_server.url).trials) == 1
