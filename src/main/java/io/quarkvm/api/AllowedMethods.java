package io.quarkvm.api;

import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.spi.Bean;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.inject.Singleton;
import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.Path;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The methods a path answers, read from the resources' JAX-RS annotations, for the Allow header a 405 must carry
 * (RFC 9110 §15.5.6): RESTEasy Reactive's NotAllowedException has none.
 */
@Singleton
class AllowedMethods {

    private record Operation(Pattern path, String method) {
    }

    private final List<Operation> operations = new ArrayList<>();

    AllowedMethods(BeanManager beans) {
        for (Bean<?> bean : beans.getBeans(Object.class, Any.Literal.INSTANCE)) {
            Path root = bean.getBeanClass().getAnnotation(Path.class);
            if (root == null) {
                continue;
            }
            for (Method method : bean.getBeanClass().getMethods()) {
                Path sub = method.getAnnotation(Path.class);
                String template = root.value() + (sub == null ? "" : "/" + sub.value());
                for (Annotation annotation : method.getAnnotations()) {
                    HttpMethod http = annotation.annotationType().getAnnotation(HttpMethod.class);
                    if (http != null) {
                        operations.add(new Operation(pattern(template), http.value()));
                    }
                }
            }
        }
    }

    /** Comma-separated, as Allow lists them; HEAD goes with GET, as RESTEasy answers it. */
    String at(String path) {
        Set<String> methods = new TreeSet<>();
        for (Operation operation : operations) {
            if (operation.path().matcher(path).matches()) {
                methods.add(operation.method());
                if (operation.method().equals(HttpMethod.GET)) {
                    methods.add(HttpMethod.HEAD);
                }
            }
        }
        return methods.stream().collect(Collectors.joining(", "));
    }

    /** {@code {id}} matches one segment; slashes are normalised (a template may have them at either end). */
    private static Pattern pattern(String template) {
        String normalised = ("/" + template).replaceAll("/+", "/").replaceAll("(.)/$", "$1");
        StringBuilder regex = new StringBuilder();
        for (String part : normalised.split("\\{[^}]*}", -1)) {
            if (!regex.isEmpty()) {
                regex.append("[^/]+");
            }
            regex.append(Pattern.quote(part));
        }
        return Pattern.compile(regex + "/?");
    }
}
