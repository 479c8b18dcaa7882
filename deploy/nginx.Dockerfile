# The shipped proxy: nginx with ModSecurity 3 and the OWASP Core Rule Set from Debian 12's packages,
# the same ones `make test` runs the WAF suite against (deploy/waf.test.ts). docker-compose.yml mounts
# deploy/nginx.conf as /etc/nginx/nginx.conf and deploy/waf/ as /etc/nginx/waf.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx libnginx-mod-http-modsecurity modsecurity-crs wget \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* /etc/nginx/modules-enabled/*
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
