import Hummingbird
import ArgumentParser
import Prometheus
print("hi")
