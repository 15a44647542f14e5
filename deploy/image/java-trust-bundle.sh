#!/bin/sh
# Make the JVM trust every CA in a PEM bundle (default: the system bundle), so Maven reaches Maven Central from a
# build sandbox whose TLS is intercepted by a proxy whose CA sits in the bundle mounted at build time. One JVM
# run of Debian's ca-certificates-java tool adds them all to the JDK's cacerts (keytool once per cert takes
# minutes). Harmless where nothing intercepts: the certificates are already trusted.
set -eu
bundle=${1:-/etc/ssl/certs/ca-certificates.crt}
jar=/usr/share/ca-certificates-java/ca-certificates-java.jar
[ -r "$bundle" ] || { echo "java-trust-bundle: no bundle at $bundle" >&2; exit 1; }
[ -r "$jar" ] || { echo "java-trust-bundle: $jar missing (apt-get install ca-certificates-java)" >&2; exit 1; }
dir=$(mktemp -d)
awk -v dir="$dir" '/-----BEGIN CERTIFICATE-----/ { n++; out = sprintf("%s/build-ca-%03d.pem", dir, n) } n { print > out }' "$bundle"
ls "$dir"/*.pem | sed 's/^/+/' | java -Xmx64m -jar "$jar" -storepass changeit >/dev/null
echo "java-trust-bundle: $(ls "$dir" | wc -l) CA certificates from $bundle trusted by the JVM" >&2
rm -rf "$dir"
