// Package deploy holds no code of the product: its tests check the deployment files (the
// compose file, the Kubernetes manifests under k8s/ and the KEDA scaler's query) against the
// real loaders and API types, offline, so a misspelt key fails in CI rather than in a cluster.
// It is a module of its own because those libraries are large and no binary needs them.
package deploy
