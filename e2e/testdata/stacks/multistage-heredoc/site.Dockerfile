FROM ladder.local/busybox:static AS content
ARG GREETING
RUN <<EOT
set -e
mkdir -p /out/www
echo "$GREETING" > /out/www/index.html
date -u -d @0 +%F > /out/www/built
EOT
COPY <<EOT /out/www/about.txt
a page written by a heredoc
EOT

FROM scratch
COPY --link --from=content /bin /bin
COPY --link --from=content /out/www /www
ENV PATH=/bin
ENTRYPOINT ["/bin/busybox"]
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
