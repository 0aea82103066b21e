# GET http://HOST:PORT/PATH with bash's /dev/tcp, since the LoadPilot images carry bash
# but neither curl nor wget; exit 0 when the status is 200 and the body, trimmed, equals
# EXPECTED. Every read is bounded (10 s). Used by the chart's `helm test` pods and by
# deploy/test-deploy.sh, which runs this same file in the images.
#   bash -c "$(cat http-check.sh)" http-check HOST PORT PATH EXPECTED
host=$1 port=$2 path=$3 expected=$4
if ! exec 3<>"/dev/tcp/$host/$port"; then
  echo "http-check: cannot connect to $host:$port"
  exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$host" >&3
if ! IFS= read -r -t 10 status <&3; then
  echo "http-check: no response from $host:$port$path within 10 s"
  exit 1
fi
status=${status%$'\r'}
while IFS= read -r -t 10 line <&3; do
  [ -z "${line%$'\r'}" ] && break
done
body=""
while IFS= read -r -t 10 line <&3 || [ -n "$line" ]; do
  body+=$line
done
body=${body%$'\r'}
case $status in
  "HTTP/1."?" 200"*) ;;
  *) echo "http-check: GET $path on $host:$port answered '$status', want 200"; exit 1 ;;
esac
if [ "$body" != "$expected" ]; then
  echo "http-check: GET $path on $host:$port answered '$body', want '$expected'"
  exit 1
fi
echo "http-check: GET $path on $host:$port: 200 $body"
