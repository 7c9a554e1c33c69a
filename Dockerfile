FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY portal portal
COPY workers workers
COPY templates templates
COPY migrations migrations
COPY piccolo_conf.py ./
RUN pip install --no-cache-dir -e .
ENV PORTAL_ENVIRONMENT=production PORTAL_HOST=0.0.0.0
EXPOSE 8000
CMD ["portal", "serve"]
