"""loanlake: the package the DAGs import (Airflow puts plugins/ on sys.path)."""
