# The salesperf services in one image; `docker compose up` runs them against PostgreSQL 15.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY shared shared
COPY services services
COPY salesperf salesperf
COPY migrations migrations
RUN pip install --no-cache-dir -e .
ENV ACTIVITY_HOST=0.0.0.0
EXPOSE 8002
CMD ["salesperf", "run"]
