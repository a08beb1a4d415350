# The image docker-compose.yml runs as web and as worker.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STUDIO_DATA_DIR=/data STUDIO_STATIC_ROOT=/app/staticfiles
WORKDIR /app
# bubblewrap: the jobs' sandbox (the container needs user namespaces: see README, "The jobs' sandbox").
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY studio studio
COPY tracking tracking
COPY registry registry
# The SDK too: `manage.py submit_job` zips folders with its code.
RUN pip install --no-cache-dir ./sdk .
COPY manage.py ./
COPY templates templates
COPY static static
RUN STUDIO_SECRET_KEY=build python manage.py collectstatic --noinput -v 0
VOLUME /data
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0"]
