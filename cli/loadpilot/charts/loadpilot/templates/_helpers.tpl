{{/* Name of the chart, or nameOverride. */}}
{{- define "loadpilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Base name of every object: the release name when it already contains the chart's
     name (release "loadpilot" -> "loadpilot", so the coordinator's Service is
     "loadpilot-coordinator", the name the docs port-forward to). */}}
{{- define "loadpilot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", for component in nats, agent, coordinator. */}}
{{- define "loadpilot.component" -}}
{{- printf "%s-%s" (include "loadpilot.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "loadpilot.secretName" -}}
{{- default (include "loadpilot.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* Labels; call with (dict "root" $ "component" "agent"). */}}
{{- define "loadpilot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "loadpilot.selectorLabels" . }}
{{- end -}}

{{- define "loadpilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "loadpilot.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* "image:tag". Refuses an image that carries its own tag or digest (it would render
     "name:local:local"), and a tag that YAML read as a number (10, or 1.10 -> 1.1). */}}
{{- define "loadpilot.image" -}}
{{- if regexMatch "(:[^/]*|@.*)$" .image -}}
{{- fail (printf "%s.image '%s' has a tag or digest in it: set %s.image to the name alone and %s.tag to the tag" .what .image .what .what) -}}
{{- end -}}
{{- if not (kindIs "string" .tag) -}}
{{- fail (printf "%s.tag must be a string, got the number %v: quote it in a values file or use --set-string %s.tag=..." .what .tag .what) -}}
{{- end -}}
{{- printf "%s:%s" .image .tag -}}
{{- end -}}

{{/* The NATS client URL inside the cluster. */}}
{{- define "loadpilot.natsAddress" -}}
{{- printf "%s:%v" (include "loadpilot.component" (dict "root" . "component" "nats")) .Values.nats.port -}}
{{- end -}}

{{/* Agents the coordinator waits for: coordinator.serveAgents, else agent.replicas. */}}
{{- define "loadpilot.serveAgents" -}}
{{- if eq (toString .Values.coordinator.serveAgents) "" -}}
{{- .Values.agent.replicas -}}
{{- else -}}
{{- .Values.coordinator.serveAgents -}}
{{- end -}}
{{- end -}}

{{/* Pod and container security settings shared by every pod of the chart. */}}
{{- define "loadpilot.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "loadpilot.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
