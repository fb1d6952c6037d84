// SPDX-License-Identifier: Apache-2.0
// Where the Kubernetes API server is and how to prove who we are to it: from
// the pod's service account (in-cluster) or from a kubeconfig file.
//
// Only what a long-running node agent needs is supported: a bearer token
// (inline or from a file), a client certificate, a CA, or no credentials at
// all (kubectl proxy). Credential plugins (exec, auth-provider) are refused
// with a clear error rather than half-supported: running an arbitrary
// command from a config file as root is not something a daemon should do
// behind its operator's back.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace fnw {

struct KubeEndpoint {
    // "https://10.0.0.1:443", optionally with a path prefix (API proxies such
    // as Rancher's serve the API below one). http:// is accepted for tests
    // and `kubectl proxy`.
    std::string server;

    // The CA that signed the API server's certificate, as a file or as PEM
    // text (kubeconfig's certificate-authority-data). Neither: the system
    // trust store.
    std::string ca_file;
    std::string ca_pem;

    // token_file wins over bearer_token when both are set, as in client-go.
    // It is read again at every (re)connect: bound service-account tokens
    // are rotated by the kubelet (hourly by default) and an old one stops
    // working after its expiry.
    std::string bearer_token;
    std::string token_file;

    // Client certificate and key, as files or as PEM text (the kubeconfig's
    // *-data keys). PEM text is handed to libcurl as an in-memory blob, so
    // the key never touches the disk.
    std::string client_cert_file, client_key_file;
    std::string client_cert_pem, client_key_pem;

    bool insecure_skip_tls_verify = false;
};

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// The API server as seen from inside a pod: KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT (an IPv6 host is put in brackets), and the
// service account's token and ca.crt in `service_account_dir`. The token is
// given as token_file, so rotations are picked up. The error says
// what is missing (not running in a pod, no service-account token mounted).
Result<KubeEndpoint> in_cluster_config(
    const std::filesystem::path& service_account_dir = kServiceAccountDir);

// The endpoint of `context` (or of current-context when empty) in the
// kubeconfig file at `path`. Relative file names in it are relative to the
// file's directory, as kubectl reads them. One file only: KUBECONFIG lists
// are not merged. Errors name the key that is missing or wrong.
Result<KubeEndpoint> kubeconfig_file(const std::filesystem::path& path, std::string context = "");

}  // namespace fnw
