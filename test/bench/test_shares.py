"""Each process on the machine is charged to one role, from the process table alone."""

from bench.shares import Proc, role

HARNESS, BROKER, DRIVER, JVM, DAEMON, WORKER, CHILD, CONSUMER, SHELL = 10, 20, 30, 31, 32, 33, 34, 40, 50
SERVICE = {
    1: Proc(0, "init"),
    HARNESS: Proc(1, "python -m bench.shares"),
    BROKER: Proc(1, "java -Xmx512m -cp libs/* kafka.Kafka server.properties"),
    DRIVER: Proc(HARNESS, "python -m app.run"),
    JVM: Proc(DRIVER, "/usr/lib/jvm/java-17/bin/java -cp jars/* org.apache.spark.deploy.SparkSubmit pyspark-shell"),
    DAEMON: Proc(JVM, "python -m pyspark.daemon pyspark.worker"),
    WORKER: Proc(DAEMON, "python -m pyspark.daemon pyspark.worker"),
    CHILD: Proc(WORKER, "python -m pyspark.daemon pyspark.worker"),
    SHELL: Proc(1, "bash"),
}


def test_the_service_tree_is_split_into_driver_jvm_workers_and_inference():
    roles = {pid: role(pid, SERVICE, DRIVER, HARNESS) for pid in SERVICE}
    assert roles[DRIVER] == "contender driver"
    assert roles[JVM] == "service JVM"
    assert roles[DAEMON] == roles[WORKER] == "service Python workers"
    assert roles[CHILD] == "inference"  # forked by a worker: where spaCy runs
    assert roles[BROKER] == "Kafka broker"
    assert roles[HARNESS] == "bench harness"
    assert roles[SHELL] == roles[1] == "other"


def test_a_plain_consumers_processes_are_its_inference():
    table = {
        1: Proc(0, "init"),
        HARNESS: Proc(1, "python -m bench.shares"),
        CONSUMER: Proc(HARNESS, "python -m bench.contenders.consumer --workers 2"),
        41: Proc(CONSUMER, "python -c from multiprocessing.spawn import spawn_main"),
        42: Proc(CONSUMER, "python -c from multiprocessing.spawn import spawn_main"),
    }
    assert role(CONSUMER, table, CONSUMER, HARNESS) == "contender driver"
    assert role(41, table, CONSUMER, HARNESS) == role(42, table, CONSUMER, HARNESS) == "inference"
    assert role(HARNESS, table, CONSUMER, HARNESS) == "bench harness"
