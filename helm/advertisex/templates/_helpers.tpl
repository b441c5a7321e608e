{{/*
Names. Every object is <release>-advertisex-<part>, cut to 63 characters (a DNS label, the
limit of Service names and label values).
*/}}
{{- define "advertisex.name" -}}
{{- printf "%s-advertisex-%s" .root.Release.Name .part | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "advertisex.operatorName" -}}
{{- include "advertisex.name" (dict "root" . "part" "operator") -}}
{{- end -}}

{{/*
Cluster-scoped objects (ClusterRoles and their bindings) carry the release's namespace too:
two releases of the same name in different namespaces must not share them.
*/}}
{{- define "advertisex.clusterName" -}}
{{- printf "%s-%s-advertisex-%s" .root.Release.Namespace .root.Release.Name .part | trunc 253 -}}
{{- end -}}

{{- define "advertisex.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "advertisex.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "advertisex.jobServiceAccountName" -}}
{{- if .Values.jobServiceAccount.create -}}
{{- default (include "advertisex.name" (dict "root" . "part" "flink-jobs")) .Values.jobServiceAccount.name -}}
{{- else -}}
{{- default "default" .Values.jobServiceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Labels: the app.kubernetes.io set. Call with (dict "root" $ "component" "operator").
*/}}
{{- define "advertisex.selectorLabels" -}}
app.kubernetes.io/name: advertisex
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "advertisex.labels" -}}
{{ include "advertisex.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: advertisex
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
The operator image, refusing a moving tag: with "latest" (or none) a pod restart or a
rescheduling can run other code than the release that was installed.
*/}}
{{- define "advertisex.image" -}}
{{- $tag := toString (default "" .Values.image.tag) -}}
{{- if or (eq $tag "") (eq (lower $tag) "latest") -}}
{{- fail (printf "image.tag must be a pinned version (e.g. %q), not %q: a moving tag makes a pod restart run other code than the release installed" .Chart.AppVersion $tag) -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/*
True (non-empty) when the operator watches every namespace.
*/}}
{{- define "advertisex.clusterWide" -}}
{{- if empty .Values.watchNamespaces -}}true{{- end -}}
{{- end -}}

{{/*
The namespaces that get the Flink jobs' ServiceAccount and Role: each watched namespace, or
the release's namespace when cluster-wide. A JSON list (templates return strings).
*/}}
{{- define "advertisex.jobNamespaces" -}}
{{- if empty .Values.watchNamespaces -}}
{{- list .Release.Namespace | toJson -}}
{{- else -}}
{{- .Values.watchNamespaces | uniq | toJson -}}
{{- end -}}
{{- end -}}

{{/*
kopf's command line. The namespace flags come from watchNamespaces, like the RBAC.
*/}}
{{- define "advertisex.command" -}}
{{- $cmd := list "kopf" "run" "--standalone" (printf "--liveness=http://0.0.0.0:%d/healthz" (int .Values.operator.healthPort)) -}}
{{- $level := .Values.operator.logLevel | default "info" -}}
{{- if eq $level "debug" -}}
{{- $cmd = append $cmd "--verbose" -}}
{{- else if eq $level "warning" -}}
{{- $cmd = append $cmd "--quiet" -}}
{{- else if ne $level "info" -}}
{{- fail (printf "operator.logLevel must be debug, info or warning, not %q" $level) -}}
{{- end -}}
{{- $cmd = concat $cmd (list "-m" "advertisex_operator.handlers") -}}
{{- if include "advertisex.clusterWide" . -}}
{{- $cmd = append $cmd "--all-namespaces" -}}
{{- else -}}
{{- range (.Values.watchNamespaces | uniq) -}}
{{- $cmd = append $cmd (printf "--namespace=%s" .) -}}
{{- end -}}
{{- end -}}
{{- toJson $cmd -}}
{{- end -}}
