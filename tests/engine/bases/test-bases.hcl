# Test base images assembled from Debian packages. They live under the
# oh-test/ namespace and never pretend to be Docker Hub images.
group "default" {
  targets = ["busybox", "musl", "noshell", "uid1000", "envbase"]
}

target "_common" {
  context    = "tests/engine/bases"
  platforms  = ["linux/amd64", "linux/arm64"]
  attest     = ["type=provenance,disabled=true"]
  pull       = true
}

target "busybox" {
  inherits   = ["_common"]
  dockerfile = "test-bases.Dockerfile"
  target     = "busybox"
  tags       = ["127.0.0.1:5000/oh-test/busybox:static"]
}

target "musl" {
  inherits   = ["_common"]
  dockerfile = "test-bases.Dockerfile"
  target     = "musl"
  tags       = ["127.0.0.1:5000/oh-test/musl:latest"]
}

target "noshell" {
  inherits   = ["_common"]
  dockerfile = "test-bases.Dockerfile"
  target     = "noshell"
  tags       = ["127.0.0.1:5000/oh-test/noshell:latest"]
}

target "uid1000" {
  inherits   = ["_common"]
  dockerfile = "test-bases.Dockerfile"
  target     = "uid1000"
  tags       = ["127.0.0.1:5000/oh-test/uid1000:bookworm"]
}

target "envbase" {
  inherits   = ["_common"]
  dockerfile = "test-bases.Dockerfile"
  target     = "envbase"
  tags       = ["127.0.0.1:5000/oh-test/envbase:bookworm"]
}
