"""Writing many forecast hours at once: insert the new (location, hour) rows and update the ones
already stored, each database its fastest way, without building model instances.

The rows come as columns (name -> one value per row), in the order of `COLUMNS`. The app runs on
PostgreSQL (deployed) and on SQLite (the app alone); both take INSERT ... ON CONFLICT DO UPDATE.
"""

from __future__ import annotations

from django.db import connection

from forecast.models import WeatherForecast

FIELDS = ("temperature", "humidity", "pressure_msl", "surface_pressure", "precipitation", "cloud_cover", "wind_speed")
COLUMNS = ("location_id", "target_time", *FIELDS)

# Where a batch's rows wait between the COPY and the upsert: one per database session, emptied each time.
STAGING_TABLE = "weather_forecast_staging"
STAGING_TYPES = ("bigint", "timestamptz", *["float8"] * len(FIELDS))


def upsert(columns: dict[str, list], fetched_at) -> None:
    """Insert or update every row of `columns`, stamped `fetched_at`; call it inside a transaction."""
    if connection.vendor == "postgresql":
        upsert_by_copy(columns, fetched_at)
    else:
        upsert_by_executemany(columns, fetched_at)


def _quoted_names() -> tuple[list[str], str, str]:
    """The quoted column names, the table, and the SET clause that takes the new values."""
    quote = connection.ops.quote_name
    names = [quote(name) for name in (*COLUMNS, "fetched_at")]
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in names[2:])
    return names, quote(WeatherForecast._meta.db_table), updates


def upsert_by_copy(columns: dict[str, list], fetched_at) -> None:
    """PostgreSQL: the rows go into a temporary table by binary COPY, then one INSERT ... SELECT ...
    ON CONFLICT DO UPDATE moves them over.

    COPY because psycopg encodes its rows in C: sending the columns as array parameters cost
    four times the client CPU (a Python call per value, measured on 7,200 rows), and Django's
    own client-side binding writes every number out as text, slower still.
    """
    names, table, updates = _quoted_names()
    staged = names[:-1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} "
            f"({', '.join(f'{name} {kind}' for name, kind in zip(staged, STAGING_TYPES, strict=True))})"
        )
        with cursor.cursor.copy(f"COPY {STAGING_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(STAGING_TYPES)
            for row in zip(*(columns[name] for name in COLUMNS), strict=True):
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(staged)}, %s FROM {STAGING_TABLE} "
            f"ON CONFLICT ({names[0]}, {names[1]}) DO UPDATE SET {updates}",
            [fetched_at],
        )
        cursor.execute(f"TRUNCATE {STAGING_TABLE}")


def upsert_by_executemany(columns: dict[str, list], fetched_at) -> None:
    """SQLite (the app alone): one INSERT ... ON CONFLICT DO UPDATE, executed for every row by the
    driver's executemany, which binds the parameters in C. Django's bulk_create built a model
    instance per row and a statement per 99 rows (SQLite's 999 parameters): 11 to 17 s for 1,000
    places' 72 hours against this path's fraction of it (bench/jobs.py measures both).

    Times are stored as Django stores them, in the backend's own text form: the unique
    (location, hour) pair is compared as that text, so any other spelling would add a row
    instead of updating it. A batch has few distinct hours, each converted once.
    """
    names, table, updates = _quoted_names()
    adapt = connection.ops.adapt_datetimefield_value
    times = {time: adapt(time) for time in set(columns["target_time"])}
    values = [columns[name] for name in COLUMNS]
    values[1] = [times[time] for time in columns["target_time"]]
    stamp = adapt(fetched_at)
    rows = [(*row, stamp) for row in zip(*values, strict=True)]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) "
            f"ON CONFLICT ({names[0]}, {names[1]}) DO UPDATE SET {updates}",
            rows,
        )
